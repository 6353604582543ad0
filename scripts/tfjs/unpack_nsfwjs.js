// unpack_nsfwjs.js SRC DEST
//
// nsfwjs ships each model as UMD JavaScript modules: model.min.js, whose
// module value is the TF.js model.json object, and group1-shardNofM.min.js,
// whose module value is that weight shard, base64-encoded. This turns the
// modules in SRC back into a TF.js graph model in DEST: model.json and the
// binary shards its weights manifest names. No network, no dependency:
// Node's require() evaluates the modules.
'use strict';
const fs = require('fs');
const path = require('path');

const [src, dest] = process.argv.slice(2);
if (!src || !dest) {
  console.error('usage: unpack_nsfwjs.js SRC DEST');
  process.exit(2);
}
const model = require(path.resolve(src, 'model.min.js'));
if (!model || !model.modelTopology || !Array.isArray(model.weightsManifest)) {
  console.error(`${src}/model.min.js is not a TF.js model module`);
  process.exit(1);
}
fs.mkdirSync(dest, { recursive: true });
for (const group of model.weightsManifest) {
  for (const p of group.paths) {
    if (path.basename(p) !== p) {
      console.error(`weight shard path ${p} leaves the model's folder`);
      process.exit(1);
    }
    const b64 = require(path.resolve(src, `${p}.min.js`));
    if (typeof b64 !== 'string') {
      console.error(`${p}.min.js does not hold a base64 weight shard`);
      process.exit(1);
    }
    fs.writeFileSync(path.join(dest, p), Buffer.from(b64, 'base64'));
  }
}
fs.writeFileSync(path.join(dest, 'model.json'), JSON.stringify(model));
