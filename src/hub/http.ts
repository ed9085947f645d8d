/**
 * Requests to the Hub: the token goes only to the hub's own origin (fetch drops it on cross-origin
 * redirects to the CDN), and every failure becomes a `ModelSourceError` with an actionable message.
 */
import { ModelSourceError, cancelledError, describeCause, isAbortError } from './errors';

export interface HubRequestContext {
  hubUrl: string;
  /** Repo id, for messages. */
  id: string;
  revision?: string;
  /** What was being done, for messages: "listing the files of x", "downloading config.json". */
  action: string;
  hasToken: boolean;
}

export const TOKEN_HELP = 'set a token (HF_TOKEN or the "Set Hugging Face Token" command)';

function modelPage(context: HubRequestContext): string {
  return `${context.hubUrl}/${context.id}`;
}

/** Maps a non-OK Hub response to an error. Reads the Hub's X-Error-Code / X-Error-Message headers. */
export function errorFromResponse(response: { status: number; headers: Headers }, context: HubRequestContext): ModelSourceError {
  const status = response.status;
  const errorCode = response.headers.get('x-error-code') ?? '';
  const errorMessage = response.headers.get('x-error-message') ?? '';
  const page = modelPage(context);

  if (status === 401 && /invalid credentials|invalid.*token|expired/i.test(errorMessage)) {
    return new ModelSourceError(
      'invalid-token',
      `The Hugging Face Hub rejected the access token (HTTP 401: ${errorMessage}). It may be mistyped, revoked ` +
        `or expired: create a new one at ${context.hubUrl}/settings/tokens and ${TOKEN_HELP}.`,
    );
  }
  if (status === 401 || status === 403 || errorCode === 'GatedRepo') {
    const gatedHint = errorCode === 'GatedRepo' ? `${context.id} is a gated model` : `${context.id} is gated or private`;
    const tokenState = context.hasToken
      ? 'the token that was sent has no access to it'
      : 'no token was sent';
    const notFoundHint = !context.hasToken && errorCode !== 'GatedRepo'
      ? ` If it is neither, check the id: the Hub answers this way for models that do not exist.`
      : '';
    return new ModelSourceError(
      'unauthorized',
      `Cannot access ${context.id} (HTTP ${status}): ${gatedHint} and ${tokenState}. It is gated or private: ` +
        `accept the licence on the model page (${page}) and ${TOKEN_HELP}` +
        (context.hasToken ? '; a fine-grained token also needs read access to gated repos.' : '.') +
        notFoundHint,
    );
  }
  if (status === 404) {
    if (errorCode === 'RevisionNotFound') {
      return new ModelSourceError(
        'revision-not-found',
        `Revision "${context.revision ?? 'main'}" of ${context.id} does not exist: check the branch, tag or commit after "@" (see ${page}/tree/main).`,
      );
    }
    if (errorCode === 'EntryNotFound') {
      return new ModelSourceError('server', `The Hub listed a file of ${context.id} that it then could not serve (HTTP 404) while ${context.action}. Try again later.`);
    }
    return new ModelSourceError(
      'repo-not-found',
      `Model ${context.id} was not found on ${context.hubUrl} (HTTP 404). Check the id: it looks like owner/name, e.g. openai-community/gpt2.`,
    );
  }
  if (status === 429) {
    return new ModelSourceError('server', `The Hugging Face Hub is rate-limiting requests (HTTP 429) while ${context.action}. Wait a minute and try again${context.hasToken ? '' : ', or ' + TOKEN_HELP + ' for higher limits'}.`);
  }
  const detail = errorMessage ? `: ${errorMessage}` : '';
  return new ModelSourceError(
    'server',
    `The Hugging Face Hub (${context.hubUrl}) answered HTTP ${status}${detail} while ${context.action}. ` +
      `This is usually temporary: try again later. Models already in the cache load without the network.`,
  );
}

/** Maps a thrown fetch / stream error (not an HTTP status) to an error. */
export function errorFromNetworkFailure(error: unknown, context: HubRequestContext): ModelSourceError {
  if (isAbortError(error)) return cancelledError();
  if (error instanceof ModelSourceError) return error;
  return new ModelSourceError(
    'network',
    `Could not reach ${context.hubUrl} (${describeCause(error)}) while ${context.action}. Check your internet ` +
      `connection and proxy settings. Models already in the cache load without the network (setting ` +
      `"attentionInspector.offline").`,
    { cause: error },
  );
}

/**
 * A fetch for `@huggingface/hub` calls and our downloads: adds the token for the hub's origin,
 * ties the request to `signal`, and throws mapped errors for failures and non-OK answers
 * (a 206 partial answer or 416 is passed through when `passStatuses` allows it).
 */
export function createHubFetch(options: {
  hubUrl: string;
  token?: string;
  signal?: AbortSignal;
  context: () => HubRequestContext;
  passStatuses?: readonly number[];
}): typeof fetch {
  const hubOrigin = new URL(options.hubUrl).origin;
  const hubFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString();
    const headers = new Headers(init?.headers);
    if (options.token && new URL(url).origin === hubOrigin) headers.set('Authorization', `Bearer ${options.token}`);
    let response: Response;
    try {
      response = await fetch(url, { ...init, headers, signal: options.signal, redirect: 'follow' });
    } catch (error) {
      throw errorFromNetworkFailure(error, options.context());
    }
    if (!response.ok && !options.passStatuses?.includes(response.status)) {
      // Free the socket: the body of an error answer is not needed (the headers carry the cause).
      await response.body?.cancel().catch(() => undefined);
      throw errorFromResponse(response, options.context());
    }
    return response;
  };
  return hubFetch as typeof fetch;
}
