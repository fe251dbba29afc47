// Command captune builds image-caption datasets and fine-tunes BLIP on them.
// With no arguments it opens the main window; with a subcommand it runs headless (captune --help).
package main

import (
	"os"

	"github.com/captune/captune/app"
	_ "github.com/captune/captune/internal/locale" // before Fyne reads the locale: see the package comment
)

func main() {
	os.Exit(app.Main(os.Args[1:]))
}
