// use_tokenize.js VOCAB.json TEXTS.json OUT.json
//
// Tokenises every text of TEXTS.json (a JSON array of strings) with the
// JavaScript SentencePiece tokenizer that ships beside the USE-Lite model
// (@energetic-ai/embeddings@0.2.0's Tokenizer, over the model package's
// vocabulary) and writes the id lists as a JSON array. The Go tokenizer's
// tests compare their ids with these.
'use strict';
const fs = require('fs');

// The tokenizer class is not exported on its own: EmbeddingsModel builds
// it from the vocabulary, and keeps it as .tokenizer.
const { EmbeddingsModel } = require('@energetic-ai/embeddings');

const [vocabPath, textsPath, outPath] = process.argv.slice(2);
const vocabulary = JSON.parse(fs.readFileSync(vocabPath, 'utf8'));
const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8'));
const { tokenizer } = new EmbeddingsModel({ vocabulary, model: null });
fs.writeFileSync(outPath, JSON.stringify(texts.map((t) => tokenizer.encode(t))));
