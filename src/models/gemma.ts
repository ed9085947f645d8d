/** Gemma: embeddings scaled by √hidden, RMS norms that scale by (1 + w), GeGLU MLP, multi-query attention. */
import type { Architecture } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { createDecoder } from './decoder';

export function createGemma(ckpt: Checkpoint): Architecture {
  return createDecoder(ckpt, { scaleEmbeddings: true, normOffset: 1, defaultActivation: 'gelu_pytorch_tanh' });
}
