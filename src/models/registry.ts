/** Maps config.json's `model_type` to the module that implements it. */
import type { Architecture, ArchitectureFactory } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';
import { createBert } from './bert';
import { createGemma } from './gemma';
import { createGemma2 } from './gemma2';
import { createLlama } from './llama';
import { createPhi3 } from './phi3';

const FAMILIES: Record<string, ArchitectureFactory> = {
  bert: createBert,
  roberta: createBert,
  'xlm-roberta': createBert,
  camembert: createBert,
  llama: createLlama,
  mistral: createLlama,
  qwen2: createLlama,
  qwen3: createLlama,
  gemma: createGemma,
  gemma2: createGemma2,
  phi3: createPhi3,
};

export function supportedModelTypes(): string[] {
  return Object.keys(FAMILIES).sort();
}

export function createArchitecture(ckpt: Checkpoint): Architecture {
  const type = ckpt.config.model_type;
  const factory = typeof type === 'string' ? FAMILIES[type] : undefined;
  if (!factory) {
    throw new EngineError(
      'unsupported-architecture',
      `Model type "${String(type)}" is not supported. Supported model types: ${supportedModelTypes().join(', ')}.`,
    );
  }
  return factory(ckpt);
}
