// Submit a job to jobqueue and wait until it has finished, with fetch alone (Node 18 or later).
// JOBQUEUE_API_URL says where the API is, JOBQUEUE_TOKEN the token to send (if it wants one).
declare const process: { env: Record<string, string | undefined>; exitCode?: number }; // or @types/node

type Job = { id: string; state?: string; result?: unknown; error?: string | null };

const api = (process.env.JOBQUEUE_API_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const key = `example-${Date.now()}-${Math.random()}`; // one key for every try: one job
const headers: Record<string, string> = {
  "Content-Type": "application/json",
  "Idempotency-Key": key,
};
if (process.env.JOBQUEUE_TOKEN) headers.Authorization = `Bearer ${process.env.JOBQUEUE_TOKEN}`;
const finished = ["succeeded", "dead", "cancelled"];

// Send a request, again after a lost connection or a 5xx/429 (the key makes that safe).
async function call(method: string, path: string, body?: object): Promise<Job> {
  for (let attempt = 1; ; attempt++) {
    const init = { method, headers, body: JSON.stringify(body) };
    const response = await fetch(api + path, init).catch(() => undefined);
    if (response?.ok) return (await response.json()) as Job;
    if ((response && response.status < 429) || attempt === 5) {
      throw new Error(`${method} ${path}: ${response ? await response.text() : "no answer"}`);
    }
    const waitS = Number(response?.headers.get("retry-after") ?? attempt);
    await new Promise((resume) => setTimeout(resume, 1000 * waitS));
  }
}

let job = await call("POST", "/jobs", { type: "echo", payload: { hello: "world" } });
console.log(`submitted ${job.id}`);
while (!finished.includes(job.state ?? "")) job = await call("GET", `/jobs/${job.id}?wait=30`);
console.log(JSON.stringify(job));
process.exitCode = job.state === "succeeded" ? 0 : 1;
export {}; // a module, for the top-level await
