package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mediavec/mediavec/encoders"
)

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "import-tfjs" {
		return runImportTFJS(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("models", "models [flags]\n       mediavec models import-tfjs MODEL.json OUT.onnx [flags]\n\nLists the models, checks their files and graphs, and loads them;\nimport-tfjs converts a TensorFlow.js graph model to ONNX (see its --help).", stderr)
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	provider := fs.String("provider", encoders.DefaultProvider, "execution provider to self-test: cpu, cuda or tensorrt")
	device := fs.Int("device", 0, "GPU ordinal for --provider cuda or tensorrt")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := encoders.InitRuntime(*ortLib); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSPACE\tMODALITY\tDIM\tDISTANCE\tSTATUS\tINPUTS → OUTPUTS\tSOURCE")
	bad := 0
	for _, m := range encoders.Manifest {
		status, io := "ok", "built-in"
		ins, outs, err := m.Check(*models)
		switch {
		case err != nil:
			status, io = "FAILED: "+err.Error(), ""
			bad++
		case len(m.Files) > 0:
			io = tensors(ins) + " → " + tensors(outs)
		}
		dim := "sparse"
		if m.Dim > 0 {
			dim = fmt.Sprint(m.Dim)
		} else if m.Distance == "" {
			dim = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Space, m.Modality, dim, orDash(m.Distance), status, io, m.Source)
	}
	specs, err := encoders.ReadCLIPSpecs(*models)
	if err != nil {
		fmt.Fprintf(tw, "clip\t-\t-\t-\t-\tFAILED: %v\t\t\n", err)
		bad++
	}
	for _, spec := range specs {
		status := "ok"
		c, err := encoders.LoadCLIP(spec.Dir, spec, encoders.SessionConfig{})
		if err != nil {
			status = "FAILED: " + err.Error()
			bad++
		} else {
			c.Close()
		}
		io := fmt.Sprintf("%s: %s [N,3,%d,%d] → %s; %s: %s [N,%d] → %s", spec.ImageModel, spec.ImageInput, spec.ImageSize, spec.ImageSize, spec.ImageOutput,
			spec.TextModel, spec.TextInput, spec.ContextLength, spec.TextOutput)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", spec.Space(), spec.Space(), "frame+text", spec.Dim, "cosine", status, io, "user-supplied: "+spec.Source)
	}
	tw.Flush()
	if bad > 0 {
		return fmt.Errorf("%d models failed their check", bad)
	}
	cfg := encoders.SessionConfig{Provider: *provider, Device: *device}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	set, err := encoders.LoadAll(*models, cfg, encoders.OCRConfig{})
	if err != nil {
		return err
	}
	set.Close()
	fmt.Fprintf(stdout, "ONNX Runtime %s loaded from %s; every model loads and runs on %s.\n", encoders.RuntimeVersion(), *ortLib, *provider)
	return nil
}

func tensors(ts []encoders.TensorSpec) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
