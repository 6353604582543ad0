// tfjs_run.js MODEL.json INPUT.f32 SHAPE OUT.json OUTPUT...
//
// Runs a TF.js graph model with @tensorflow/tfjs's pure-JavaScript CPU
// backend on one float32 input (raw little-endian, SHAPE like 1,512,512,3)
// and writes the named outputs as JSON: {name: {shape, data}}. The parity
// tests compare them with the converted ONNX model's outputs.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [modelPath, inputPath, shapeArg, outPath, ...outputs] = process.argv.slice(2);
  if (!outputs.length) throw new Error('usage: tfjs_run.js MODEL.json INPUT.f32 SHAPE OUT.json OUTPUT...');
  const mj = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const dir = path.dirname(modelPath);
  const weightSpecs = [];
  const shards = [];
  for (const group of mj.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = {
    load: async () => ({
      modelTopology: mj.modelTopology, weightSpecs, weightData, format: mj.format,
      generatedBy: mj.generatedBy, convertedBy: mj.convertedBy, signature: mj.signature,
      userDefinedMetadata: mj.userDefinedMetadata,
    }),
  };
  await tf.setBackend('cpu');
  const model = await tf.loadGraphModel(handler);
  const raw = fs.readFileSync(inputPath);
  const shape = shapeArg.split(',').map(Number);
  const input = tf.tensor(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), shape, 'float32');
  const start = Date.now();
  let res = model.execute(input, outputs);
  if (!Array.isArray(res)) res = [res];
  const result = { backend: tf.getBackend(), version: tf.version.tfjs, ms: 0, outputs: {} };
  for (let i = 0; i < outputs.length; i++) {
    result.outputs[outputs[i]] = { shape: res[i].shape, data: Array.from(await res[i].data()) };
  }
  result.ms = Date.now() - start;
  fs.writeFileSync(outPath, JSON.stringify(result));
}

main().catch((err) => { console.error(err && err.stack ? err.stack : String(err)); process.exit(1); });
