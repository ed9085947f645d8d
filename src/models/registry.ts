/**
 * Every family the product supports, one line each. The engine never imports this: callers hand
 * `FAMILIES` to the engine (`loadModel` in ./index.ts, the worker, the CLI, tests).
 */
import { FamilyRegistry } from '../engine/architecture';
import { albert } from './albert';
import { bert } from './bert';
import { cohere } from './cohere';
import { debertaV2 } from './deberta-v2';
import { distilbert } from './distilbert';
import { electra } from './electra';
import { gemma } from './gemma';
import { gemma2 } from './gemma2';
import { gpt2 } from './gpt2';
import { gpt_neox } from './gpt_neox';
import { granite } from './granite';
import { llama } from './llama';
import { mixtral } from './mixtral';
import { modernbert } from './modernbert';
import { mpnet } from './mpnet';
import { olmo } from './olmo';
import { olmo2 } from './olmo2';
import { opt } from './opt';
import { phi3 } from './phi3';
import { qwen2_moe } from './qwen2_moe';
import { stablelm } from './stablelm';
import { t5 } from './t5';

export const FAMILIES = new FamilyRegistry([
  albert,
  bert,
  cohere,
  debertaV2,
  distilbert,
  electra,
  gemma,
  gemma2,
  gpt2,
  gpt_neox,
  granite,
  llama,
  mixtral,
  modernbert,
  mpnet,
  olmo,
  olmo2,
  opt,
  phi3,
  qwen2_moe,
  stablelm,
  t5,
]);

export function supportedModelTypes(): string[] {
  return FAMILIES.modelTypes();
}
