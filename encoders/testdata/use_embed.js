// use_embed.js MODEL.json IDS.json OUT.json
//
// Runs the USE-Lite TF.js graph model with @tensorflow/tfjs's
// pure-JavaScript CPU backend on a batch of token-id lists (IDS.json: a
// JSON array of arrays), fed as the model's sparse inputs exactly as
// @energetic-ai/embeddings feeds them, and writes one 512-d vector per
// list as a JSON array. The tests compare them with the converted ONNX
// model's.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [modelPath, idsPath, outPath] = process.argv.slice(2);
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
  await tf.setBackend('cpu');
  const model = await tf.loadGraphModel({ load: async () => ({ modelTopology: mj.modelTopology, weightSpecs, weightData }) });
  const lists = JSON.parse(fs.readFileSync(idsPath, 'utf8'));
  const coords = [];
  for (let i = 0; i < lists.length; i++) for (let j = 0; j < lists[i].length; j++) coords.push([i, j]);
  const indices = tf.tensor2d(coords, [coords.length, 2], 'int32');
  const values = tf.tensor1d(lists.flat(), 'int32');
  const out = await model.executeAsync({ indices, values });
  fs.writeFileSync(outPath, JSON.stringify(await out.array()));
}

main().catch((err) => { console.error(err && err.stack ? err.stack : String(err)); process.exit(1); });
