/** The API VS Code gives a webview, typed with the panel's messages. */
import type { WebviewToHost } from '../../src/protocol/webview';

export interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare global {
  function acquireVsCodeApi(): VsCodeApi;
}
