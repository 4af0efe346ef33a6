// Submit a job to jobqueue and wait until it has finished, with net/http alone.
// JOBQUEUE_API_URL says where the API is, JOBQUEUE_TOKEN the token to send (if it wants one).
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

var api = strings.TrimSuffix(envOr("JOBQUEUE_API_URL", "http://127.0.0.1:8080"), "/")
var key = fmt.Sprintf("example-%d", time.Now().UnixNano()) // one key for every try: one job

func main() {
	job := call("POST", "/jobs", `{"type": "echo", "payload": {"hello": "world"}}`)
	fmt.Println("submitted", job["id"])
	for job["state"] != "succeeded" && job["state"] != "dead" && job["state"] != "cancelled" {
		job = call("GET", fmt.Sprintf("/jobs/%v?wait=30", job["id"]), "")
	}
	answer, _ := json.Marshal(job)
	fmt.Println(string(answer))
	if job["state"] != "succeeded" {
		os.Exit(1)
	}
}

// call sends a request, again after a lost connection or a 5xx/429 (the key makes that safe).
func call(method, path, body string) (job map[string]any) {
	for try := 1; ; try++ {
		request, _ := http.NewRequest(method, api+path, strings.NewReader(body))
		request.Header.Set("Content-Type", "application/json")
		request.Header.Set("Idempotency-Key", key)
		if token := os.Getenv("JOBQUEUE_TOKEN"); token != "" {
			request.Header.Set("Authorization", "Bearer "+token)
		}
		response, err := http.DefaultClient.Do(request)
		if err == nil {
			err = json.NewDecoder(response.Body).Decode(&job)
			response.Body.Close()
			if response.StatusCode >= 300 {
				err = fmt.Errorf("%s %s answered %s: %v", method, path, response.Status, job["error"])
			}
			if err == nil {
				return job
			}
			if response.StatusCode != 429 && response.StatusCode < 500 {
				fail(err)
			}
		}
		if try == 5 {
			fail(err)
		}
		time.Sleep(time.Duration(try) * time.Second)
	}
}

func fail(err error) { fmt.Fprintln(os.Stderr, err); os.Exit(1) }

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
