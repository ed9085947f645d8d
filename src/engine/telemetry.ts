/**
 * onnxruntime-node 1.29+ on Linux and macOS embeds Microsoft's 1DS telemetry client: every process
 * that creates a session writes /tmp/mat-debug-<pid>.log, reads /etc/machine-id, queues events under
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and uploads them while a session is warm. It only
 * switches itself off for `CI` or `ORT_DISABLE_TELEMETRY=1`, and reads the variable from the
 * process environment: a worker thread's `process.env` (or `new Worker({ env })`) is a private copy
 * it never sees. So every process that runs the engine calls this on its MAIN thread before its first
 * session: the extension host in activate(), the CLI, the benchmark, the engine's child process.
 * No vscode import: usable from all of them.
 */
export const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/** Turns onnxruntime's telemetry off for this process and the processes it starts. */
export function disableOnnxruntimeTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  env[ORT_TELEMETRY_VARIABLE] = '1';
}
