/** Gemma: embeddings scaled by √hidden, RMS norms that scale by (1 + w), GeGLU MLP, multi-query attention. */
import type { Family } from '../engine/architecture';
import { createDecoder } from './blocks/decoder';

export const gemma: Family = {
  modelTypes: ['gemma'],
  create: (ckpt) => createDecoder(ckpt, { scaleEmbeddings: true, normOffset: 1, defaultActivation: 'gelu_pytorch_tanh', head: { tiedByDefault: true } }),
};
