/**
 * onnxruntime-node (1.29+, Linux and macOS) embeds a telemetry client that it switches off only
 * when ORT_DISABLE_TELEMETRY is set in the main thread of the process before the first session is
 * created. Every process that loads onnxruntime calls this first, in its main thread.
 */
export function disableOnnxruntimeTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY = '1';
}
