package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/fsutil"
	"github.com/mediavec/mediavec/internal/tfjs"
)

// listFlag is a repeatable flag that also takes comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// runImportTFJS converts a TF.js graph model to ONNX.
func runImportTFJS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models import-tfjs", "models import-tfjs MODEL.json OUT.onnx [flags]\n\n"+
		"Converts a TensorFlow.js graph model (model.json and its weight shards; uint8,\n"+
		"uint16 and float16 quantised weights are dequantised) to an ONNX model, writes\n"+
		"it atomically, prints its sha256, and opens it in ONNX Runtime to check it.", stderr)
	var outputs, extra listFlag
	fs.Var(&outputs, "output", "make the graph's outputs exactly these tensors (node or node:k; repeatable or comma-separated); nodes none of them needs are dropped (default: the model's signature outputs)")
	fs.Var(&extra, "extra-output", "also expose this internal tensor as an output (repeatable or comma-separated); TENSOR=NAME names the output")
	dynamic := fs.Bool("dynamic-batch", false, "make the inputs' first dimension symbolic (only for graphs, or --output subgraphs, without batch-size constants)")
	expect := fs.String("expect-sha256", "", "refuse to write the result unless its sha256 is this")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library, to check the result")
	noCheck := fs.Bool("no-check", false, "do not open the result in ONNX Runtime")
	forModel := fs.String("for", "", "make a shipped model (frame_centernet_v1): its outputs, batch and expected sha256 from the manifest; MODEL.json and OUT.onnx default to MODELS/tfjs/SOURCE and MODELS/FILE, and nothing is done when OUT.onnx is already right")
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder, for --for")
	quiet := fs.Bool("quiet", false, "print nothing when there is nothing to do")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	var src, dst string
	if *forModel != "" {
		imp, ok := encoders.TFJSImports[*forModel]
		if !ok {
			return fmt.Errorf("%w: --for %q: no shipped model is imported from TF.js by that name (have: %s)", errUsage, *forModel, strings.Join(slices.Sorted(maps.Keys(encoders.TFJSImports)), ", "))
		}
		if len(outputs) > 0 || len(extra) > 0 || *expect != "" {
			return fmt.Errorf("%w: --for sets the outputs and the expected sha256 itself", errUsage)
		}
		src, dst = filepath.Join(*models, "tfjs", imp.Source), filepath.Join(*models, imp.File)
		if fs.NArg() > 0 {
			src = fs.Arg(0)
		}
		if fs.NArg() > 1 {
			dst = fs.Arg(1)
		}
		if fs.NArg() > 2 {
			return fmt.Errorf("%w: want at most MODEL.json OUT.onnx", errUsage)
		}
		if sum, err := encoders.FileSHA256(dst); err == nil && sum == imp.SHA256 {
			if !*quiet {
				fmt.Fprintf(stdout, "%s is up to date (sha256 %s)\n", dst, sum)
			}
			return nil
		}
		outputs, *dynamic, *expect = imp.Outputs, imp.DynamicBatch, imp.SHA256
	} else {
		if fs.NArg() != 2 {
			return fmt.Errorf("%w: want MODEL.json OUT.onnx, got %d arguments", errUsage, fs.NArg())
		}
		src, dst = fs.Arg(0), fs.Arg(1)
	}
	start := time.Now()
	m, err := tfjs.Load(src)
	if err != nil {
		return err
	}
	loaded := time.Since(start)
	res, err := tfjs.Convert(m, tfjs.Options{Outputs: outputs, ExtraOutputs: extra, DynamicBatch: *dynamic})
	if err != nil {
		return err
	}
	b, err := res.Model.Marshal()
	if err != nil {
		return fmt.Errorf("encode ONNX: %w", err)
	}
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	if *expect != "" && !strings.EqualFold(*expect, hexSum) {
		return fmt.Errorf("converted %s has sha256 %s, expected %s: not written (a different converter or model version?)", src, hexSum, *expect)
	}
	if err := fsutil.WriteFileAtomic(dst, b, 0o644); err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "converted %s → %s in %s (reading %s)\n", src, dst, elapsed.Round(time.Millisecond), loaded.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  %d TF nodes, %d ONNX nodes, %d initializers, opset %d, %.1f MB\n",
		sum0(res.Ops), len(res.Model.Graph.Nodes), len(res.Model.Graph.Initializers), tfjs.Opset, float64(len(b))/1e6)
	if len(m.Dequantised) > 0 {
		var q []string
		for _, k := range slices.Sorted(maps.Keys(m.Dequantised)) {
			q = append(q, fmt.Sprintf("%d %s", m.Dequantised[k], k))
		}
		fmt.Fprintf(stdout, "  dequantised weights: %s\n", strings.Join(q, ", "))
	}
	for _, v := range res.Model.Graph.Inputs {
		fmt.Fprintf(stdout, "  input  %s %v\n", v.Name, v.Shape)
	}
	for _, v := range res.Model.Graph.Outputs {
		fmt.Fprintf(stdout, "  output %s\n", v.Name)
	}
	fmt.Fprintf(stdout, "  sha256 %s\n", hexSum)
	if *noCheck {
		return nil
	}
	if err := encoders.InitRuntime(*ortLib); err != nil {
		return fmt.Errorf("written, but not checked: %w (pass --no-check to skip the check)", err)
	}
	if err := encoders.OpenCheck(dst); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  ONNX Runtime %s opens it\n", encoders.RuntimeVersion())
	return nil
}

func sum0(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		rest = append(rest, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		// A non-boolean flag takes the next argument as its value.
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
				if i+1 < len(args) {
					rest = append(rest, args[i+1])
					i++
				}
			}
		}
	}
	if err := parseFlags(fs, append(rest, append([]string{"--"}, pos...)...)); err != nil {
		return err
	}
	return nil
}
