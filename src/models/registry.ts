/**
 * Every family the product supports, one line each. The engine never imports this: callers hand
 * `FAMILIES` to the engine (`loadModel` in ./index.ts, the worker, the CLI, tests).
 */
import { FamilyRegistry } from '../engine/architecture';
import { albert } from './albert';
import { bart } from './bart';
import { bert } from './bert';
import { bloom } from './bloom';
import { cohere } from './cohere';
import { debertaV2 } from './deberta-v2';
import { distilbert } from './distilbert';
import { electra } from './electra';
import { falcon } from './falcon';
import { gemma } from './gemma';
import { gemma2 } from './gemma2';
import { gpt2 } from './gpt2';
import { gpt_bigcode } from './gpt_bigcode';
import { gpt_neox } from './gpt_neox';
import { gptj } from './gptj';
import { granite } from './granite';
import { llama } from './llama';
import { marian } from './marian';
import { mbart } from './mbart';
import { mixtral } from './mixtral';
import { modernbert } from './modernbert';
import { mpnet } from './mpnet';
import { olmo } from './olmo';
import { olmo2 } from './olmo2';
import { opt } from './opt';
import { phi } from './phi';
import { phi3 } from './phi3';
import { qwen2_moe } from './qwen2_moe';
import { stablelm } from './stablelm';
import { starcoder2 } from './starcoder2';
import { t5 } from './t5';

export const FAMILIES = new FamilyRegistry([
  albert,
  bart,
  bert,
  bloom,
  cohere,
  debertaV2,
  distilbert,
  electra,
  falcon,
  gemma,
  gemma2,
  gpt2,
  gpt_bigcode,
  gpt_neox,
  gptj,
  granite,
  llama,
  marian,
  mbart,
  mixtral,
  modernbert,
  mpnet,
  olmo,
  olmo2,
  opt,
  phi,
  phi3,
  qwen2_moe,
  stablelm,
  starcoder2,
  t5,
]);

export function supportedModelTypes(): string[] {
  return FAMILIES.modelTypes();
}
