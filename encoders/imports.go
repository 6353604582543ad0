package encoders

// TFJSImport says how a shipped model is made from a TF.js graph model by
// `mediavec models import-tfjs --for NAME`: which outputs to keep, whether
// the batch is free, and the sha256 the result must have.
type TFJSImport struct {
	Source       string   // the model.json, under MODELS/tfjs
	File         string   // the ONNX file written into MODELS
	Outputs      []string // the graph's outputs
	DynamicBatch bool
	SHA256       string
}

// TFJSImports are the shipped models converted from TF.js, by manifest
// name.
var TFJSImports = map[string]TFJSImport{
	SpaceFrameCenterNet: {
		Source: "centernet.json", File: CenterNetFile,
		Outputs:      []string{centerNetKeypoints, centerNetWH, CenterNetFeatures},
		DynamicBatch: true, SHA256: CenterNetSHA256,
	},
	ModelSafety: {
		// The probabilities, and the pooled features before the classifier
		// (frame_mobilenet_v1). The input's batch is already free.
		Source: "nsfwjs/mobilenet_v2_mid/model.json", File: NSFWFile,
		Outputs: []string{nsfwProbs, NSFWFeatures + "=" + nsfwFeatures}, SHA256: NSFWSHA256,
	},
	SpaceTextUSE: {
		// The inputs are a sparse batch: their first dimension is already
		// free.
		Source: "use/model.json", File: USEFile, Outputs: []string{useOutput}, SHA256: USESHA256,
	},
}
