/** Validation of results arriving in the webview (structured clone, but still checked before use). */
import type { AttentionResult, TokenInfo } from '../protocol/types';
import { tensorProblem } from './tensor';

function tokenProblem(t: unknown, i: number): string | undefined {
  if (typeof t !== 'object' || t === null) return `token ${i} is not an object`;
  const tok = t as Partial<TokenInfo>;
  if (typeof tok.raw !== 'string' || typeof tok.display !== 'string') return `token ${i} has no text`;
  if (!Number.isInteger(tok.start) || !Number.isInteger(tok.end)) return `token ${i} has no range`;
  if (typeof tok.special !== 'boolean') return `token ${i} does not say whether it is special`;
  if (!Number.isInteger(tok.segment) || !Number.isInteger(tok.id)) return `token ${i} has no id or segment`;
  return undefined;
}

/**
 * Says what is wrong with a result, or undefined if the panel can show it. Value norms are checked
 * separately (`valueNormsProblem`): without them only value-weighted mode is unavailable.
 */
export function attentionResultProblem(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return 'the result is missing';
  const r = result as Partial<AttentionResult>;
  const model = r.model;
  if (typeof model !== 'object' || model === null || typeof model.name !== 'string') return 'the result names no model';
  if (!Number.isInteger(model.numLayers) || !Number.isInteger(model.numHeads)) return 'the result does not give the model size';
  if (typeof r.text !== 'string') return 'the result carries no text';
  if (!Array.isArray(r.tokens) || r.tokens.length === 0) return 'the result has no tokens';
  for (let i = 0; i < r.tokens.length; i++) {
    const problem = tokenProblem(r.tokens[i], i);
    if (problem) return problem;
  }
  const problem = tensorProblem(r.attentions, 'attentions', 4);
  if (problem) return problem;
  const [layers, heads, n, n2] = r.attentions!.shape;
  if (n !== r.tokens.length || n2 !== n) return `attentions are ${n}×${n2} per head but there are ${r.tokens.length} tokens`;
  if (layers === 0 || heads === 0) return 'attentions hold no layer or head';
  return undefined;
}

export function valueNormsProblem(result: AttentionResult): string | undefined {
  const problem = tensorProblem(result.valueNorms, 'valueNorms', 3);
  if (problem) return problem;
  const [layers, heads, n] = result.valueNorms.shape;
  const [aLayers, aHeads, aN] = result.attentions.shape;
  if (layers !== aLayers || heads !== aHeads || n !== aN) {
    return `valueNorms ${JSON.stringify(result.valueNorms.shape)} do not match attentions ${JSON.stringify(result.attentions.shape)}`;
  }
  return undefined;
}
