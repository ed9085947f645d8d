/** Maps config.json's `model_type` to the module that implements it. */
import type { Architecture, ArchitectureFactory } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';
import { createBert } from './bert';
import { createDistilBert } from './distilbert';
import { createGemma } from './gemma';
import { createGemma2 } from './gemma2';
import { createGpt2 } from './gpt2';
import { createGptNeox } from './gpt_neox';
import { createLlama } from './llama';
import { createModernBert } from './modernbert';
import { createPhi3 } from './phi3';
import { createT5 } from './t5';

const FAMILIES: Record<string, ArchitectureFactory> = {
  bert: createBert,
  camembert: createBert,
  distilbert: createDistilBert,
  gemma: createGemma,
  gemma2: createGemma2,
  gpt2: createGpt2,
  gpt_neox: createGptNeox,
  llama: createLlama,
  mistral: createLlama,
  modernbert: createModernBert,
  phi3: createPhi3,
  qwen2: createLlama,
  qwen3: createLlama,
  roberta: createBert,
  t5: createT5,
  'xlm-roberta': createBert,
};

export function supportedModelTypes(): string[] {
  return Object.keys(FAMILIES).sort();
}

export function createArchitecture(ckpt: Checkpoint): Architecture {
  const type = ckpt.config.model_type;
  // Own keys only: a model_type such as "constructor" must not find Object.prototype's members.
  const factory = typeof type === 'string' && Object.hasOwn(FAMILIES, type) ? FAMILIES[type] : undefined;
  if (!factory) {
    throw new EngineError(
      'unsupported-architecture',
      `Model type ${typeof type === 'string' ? `"${type}"` : '(none given)'} is not supported. Supported model types: ${supportedModelTypes().join(', ')}.`,
    );
  }
  return factory(ckpt);
}
