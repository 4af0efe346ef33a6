"""The gRPC control plane: the WorkerService server, the worker's client, generated code."""
