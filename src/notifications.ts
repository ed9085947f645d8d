/**
 * Notifications and the log channel. Every notification is also logged and remembered (the test
 * API reads them); tokens never reach either.
 */
import * as vscode from 'vscode';

export type Severity = 'error' | 'warning' | 'info';

export class Notifier implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Attention Inspector', { log: true });
  private readonly shown: { severity: Severity; message: string }[] = [];

  get history(): readonly { severity: Severity; message: string }[] {
    return this.shown;
  }

  log(line: string): void {
    this.channel.info(line);
  }

  /** Shows a notification with actions; resolves to the action chosen (or undefined). */
  async notify<T extends string>(severity: Severity, message: string, ...actions: T[]): Promise<T | undefined> {
    this.shown.push({ severity, message });
    if (this.shown.length > 100) this.shown.shift();
    (severity === 'error' ? this.channel.error : severity === 'warning' ? this.channel.warn : this.channel.info).call(this.channel, message);
    const show = severity === 'error' ? vscode.window.showErrorMessage : severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    return show(message, ...actions) as Thenable<T | undefined>;
  }

  dispose(): void {
    this.channel.dispose();
  }
}
