// Command captune builds image-caption datasets and fine-tunes BLIP on them.
// With no arguments it opens the main window; with a subcommand it runs headless (captune --help).
package main

import (
	"os"

	"github.com/captune/captune/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:]))
}
