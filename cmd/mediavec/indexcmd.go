package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/app"
)

// runIndex administers the collections: list them with their schemas and
// aliases, point an alias at a generation (the switch of a model rollout,
// and its rollback), drop an old generation.
func runIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stderr, "Usage: mediavec index collections|switch|drop [flags]\n\n  collections              every collection, its vectors, and the aliases on it\n  switch ALIAS COLLECTION  point an alias at a collection (atomic): a rollout's switch, or its rollback\n  drop COLLECTION          delete a collection no alias points at\n\nAgainst Qdrant (--qdrant) or the embedded index of a stopped `mediavec up` (--data).")
			return nil
		}
		return fmt.Errorf("%w: want index collections, switch or drop", errUsage)
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("index "+sub, "index "+sub+" [flags]", stderr)
	open := indexFlags(fs, sub == "collections")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	ix, closeIx, err := open(ctx)
	if err != nil {
		return err
	}
	defer closeIx()
	switch sub {
	case "collections":
		cols, err := ix.Collections(ctx)
		if err != nil {
			return err
		}
		aliases, err := ix.Aliases(ctx)
		if err != nil {
			return err
		}
		on := map[string][]string{}
		for a, c := range aliases {
			on[c] = append(on[c], a)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COLLECTION\tALIASES\tPOINTS\tVECTORS")
		for _, c := range cols {
			schema, err := ix.Schema(ctx, c)
			if err != nil {
				return err
			}
			n, err := ix.Count(ctx, c, index.Filter{})
			if err != nil {
				return err
			}
			sort.Strings(on[c])
			b, _ := json.Marshal(schema)
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c, orDash(strings.Join(on[c], ",")), n, b)
		}
		return tw.Flush()
	case "switch":
		if fs.NArg() != 2 {
			return fmt.Errorf("%w: index switch ALIAS COLLECTION", errUsage)
		}
		if err := ix.SetAlias(ctx, fs.Arg(0), fs.Arg(1)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s → %s\n", fs.Arg(0), fs.Arg(1))
		return nil
	case "drop":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: index drop COLLECTION", errUsage)
		}
		if err := ix.DropCollection(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dropped %s\n", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("%w: unknown index command %q (have: collections, switch, drop)", errUsage, sub)
}

// indexFlags adds the flags that choose an index and returns its opener.
//
// A read-only command opens the embedded index without writing a byte of
// it (a torn record a crash left is skipped, not cut).
func indexFlags(fs *flag.FlagSet, readOnly bool) func(context.Context) (index.Index, func(), error) {
	qopts := qdrantFlags(fs, "host:port of Qdrant's gRPC endpoint")
	data := fs.String("data", "", "data folder of a stopped `mediavec up`, for its embedded index")
	return func(ctx context.Context) (index.Index, func(), error) {
		switch {
		case (*qopts.addr == "") == (*data == ""):
			return nil, nil, fmt.Errorf("%w: give --qdrant HOST:PORT or --data DIR", errUsage)
		case *qopts.addr != "":
			qcfg, err := qopts.config()
			if err != nil {
				return nil, nil, err
			}
			q, err := app.OpenIndex(ctx, app.Config{Qdrant: qcfg})
			if err != nil {
				return nil, nil, err
			}
			return q, func() { q.Close() }, nil
		default:
			// The embedded index has one writer: the folder's lock keeps a
			// running `up` and this command apart.
			lock, err := app.LockDataDir(*data)
			if err != nil {
				return nil, nil, fmt.Errorf("%w (stop mediavec up first)", err)
			}
			openIndex := app.OpenIndex
			if readOnly {
				openIndex = app.OpenIndexReadOnly
			}
			e, err := openIndex(ctx, app.Config{DataDir: *data})
			if err != nil {
				lock.Close()
				return nil, nil, err
			}
			return e, func() { e.Close(); lock.Close() }, nil
		}
	}
}
