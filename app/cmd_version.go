package app

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"github.com/captune/captune/internal/torchx"
)

func init() {
	register(&Command{
		Name:    "version",
		Summary: "print the Captune and libtorch versions",
		Run: func(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
			if err := fs.Parse(args); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "captune %s\nlibtorch %s (gotch v0.9.1)\ngo %s %s/%s\n", Version, torchx.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
}
