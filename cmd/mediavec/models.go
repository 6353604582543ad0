package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mediavec/mediavec/encoders"
)

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models", "models [flags]", stderr)
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SPACE\tMODALITY\tDIM\tDISTANCE\tSTATUS\tSOURCE")
	bad := 0
	for _, m := range encoders.Manifest {
		status := "ok"
		if err := m.Verify(*models); err != nil {
			status = err.Error()
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", m.Space, m.Modality, m.Dim, m.Distance, status, m.Source)
	}
	tw.Flush()
	if bad > 0 {
		return fmt.Errorf("%d models failed verification", bad)
	}
	if err := encoders.InitRuntime(*ortLib); err != nil {
		return err
	}
	s, err := encoders.LoadSpeech(*models, encoders.SessionConfig{})
	if err != nil {
		return err
	}
	s.Close()
	fmt.Fprintf(stdout, "ONNX Runtime %s loaded from %s; every model loads.\n", encoders.RuntimeVersion(), *ortLib)
	return nil
}
