"""Submit a job to jobqueue and wait until it has finished, with jobqueue.client."""

import sys

from jobqueue.client import Client, JobState

with Client() as client:  # JOBQUEUE_API_URL and JOBQUEUE_TOKEN, or Client(url, token=...)
    job = client.submit("echo", {"hello": "world"})  # retried with its key: never two jobs
    print("submitted", job.id)
    done = client.wait(job.id, timeout_s=60)
    print(done.state.value, done.result)
sys.exit(0 if done.state is JobState.SUCCEEDED else 1)
