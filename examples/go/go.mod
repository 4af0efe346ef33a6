module jobqueue.example/submit-and-wait

go 1.19
