/**
 * Every family the product supports, one line each. The engine never imports this: callers hand
 * `FAMILIES` to the engine (`loadModel` in ./index.ts, the worker, the CLI, tests).
 */
import { FamilyRegistry } from '../engine/architecture';
import { bert } from './bert';
import { bloom } from './bloom';
import { distilbert } from './distilbert';
import { falcon } from './falcon';
import { gemma } from './gemma';
import { gemma2 } from './gemma2';
import { gpt2 } from './gpt2';
import { gpt_bigcode } from './gpt_bigcode';
import { gpt_neox } from './gpt_neox';
import { gptj } from './gptj';
import { llama } from './llama';
import { mixtral } from './mixtral';
import { modernbert } from './modernbert';
import { opt } from './opt';
import { phi } from './phi';
import { phi3 } from './phi3';
import { starcoder2 } from './starcoder2';
import { t5 } from './t5';

export const FAMILIES = new FamilyRegistry([
  bert,
  bloom,
  distilbert,
  falcon,
  gemma,
  gemma2,
  gpt2,
  gpt_bigcode,
  gpt_neox,
  gptj,
  llama,
  mixtral,
  modernbert,
  opt,
  phi,
  phi3,
  starcoder2,
  t5,
]);

export function supportedModelTypes(): string[] {
  return FAMILIES.modelTypes();
}
