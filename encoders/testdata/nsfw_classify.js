// nsfw_classify.js IMAGES.json OUT.json
//
// Classifies images with nsfwjs@4.4.0's own classify() on its bundled
// MobileNetV2Mid graph model, under @tensorflow/tfjs's pure-JavaScript CPU
// backend. IMAGES.json lists {"rgb": FILE, "width": W, "height": H}, each
// FILE raw packed RGB24; OUT.json gets, per image, the five class
// probabilities by class name. The tests compare them with mediavec's
// encoder on the same pixels.
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const nsfwjs = require('nsfwjs');

async function main() {
  const [imagesPath, outPath] = process.argv.slice(2);
  const images = JSON.parse(fs.readFileSync(imagesPath, 'utf8'));
  await tf.setBackend('cpu');
  console.info = () => {}; // nsfwjs announces the model it loads
  const model = await nsfwjs.load('MobileNetV2Mid', { type: 'graph' });
  const out = [];
  for (const im of images) {
    const rgb = fs.readFileSync(im.rgb);
    const img = tf.tensor3d(new Int32Array(rgb), [im.height, im.width, 3], 'int32');
    const classes = await model.classify(img, 5);
    img.dispose();
    const probs = {};
    for (const c of classes) probs[c.className] = c.probability;
    out.push(probs);
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
}

main().catch((err) => { console.error(err && err.stack ? err.stack : String(err)); process.exit(1); });
