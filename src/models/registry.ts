/**
 * Every family the product supports, one line each. The engine never imports this: callers hand
 * `FAMILIES` to the engine (`loadModel` in ./index.ts, the worker, the CLI, tests).
 */
import { FamilyRegistry } from '../engine/architecture';
import { albert } from './albert';
import { bart } from './bart';
import { bert } from './bert';
import { debertaV2 } from './deberta-v2';
import { distilbert } from './distilbert';
import { electra } from './electra';
import { gemma } from './gemma';
import { gemma2 } from './gemma2';
import { gpt2 } from './gpt2';
import { gpt_neox } from './gpt_neox';
import { llama } from './llama';
import { marian } from './marian';
import { mbart } from './mbart';
import { mixtral } from './mixtral';
import { modernbert } from './modernbert';
import { mpnet } from './mpnet';
import { opt } from './opt';
import { phi3 } from './phi3';
import { t5 } from './t5';

export const FAMILIES = new FamilyRegistry([
  albert,
  bart,
  bert,
  debertaV2,
  distilbert,
  electra,
  gemma,
  gemma2,
  gpt2,
  gpt_neox,
  llama,
  marian,
  mbart,
  mixtral,
  modernbert,
  mpnet,
  opt,
  phi3,
  t5,
]);

export function supportedModelTypes(): string[] {
  return FAMILIES.modelTypes();
}
