package annotate_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/captune/captune/annotate"
)

// A folder of images with sidecar captions opens as a dataset; an edit is saved back to the
// caption file the image had.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "captune-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for name, content := range map[string]string{
		"shoe.jpg": "(image bytes: Open never reads them)",
		"shoe.txt": "a red sneaker on a white floor\n",
		"cat.png":  "(image bytes)",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			log.Fatal(err)
		}
	}

	ds, _, err := annotate.Open(dir, annotate.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close()
	if err := ds.Lock(); err != nil { // one window edits a folder at a time
		log.Fatal(err)
	}
	for _, it := range ds.Items() {
		fmt.Printf("%s: %d caption(s)\n", it.Path, len(it.Captions))
	}
	i, _ := ds.Index("cat.png")
	if _, err := ds.AddCaption(i, "a cat asleep on a sofa", annotate.OriginHuman); err != nil {
		log.Fatal(err)
	}
	if err := ds.Save(); err != nil {
		log.Fatal(err)
	}
	saved, _ := os.ReadFile(filepath.Join(dir, "cat.txt"))
	fmt.Printf("cat.txt: %s", saved)
	// Output:
	// cat.png: 0 caption(s)
	// shoe.jpg: 1 caption(s)
	// cat.txt: a cat asleep on a sofa
}

// The images that score a model are chosen by the dataset, so every caller scores the same ones.
func ExampleDataset_EvalSet() {
	dir, err := os.MkdirTemp("", "captune-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for i := 0; i < 4; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("img%d.jpg", i)), []byte("(image)"), 0o644)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("img%d.txt", i)), []byte(fmt.Sprintf("caption %d\n", i)), 0o644)
	}
	ds, _, err := annotate.Open(dir, annotate.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close()
	ds.SetSplit(3, annotate.SplitTest)
	set := ds.EvalSet(annotate.TrainTrusted, annotate.HoldoutAuto)
	fmt.Println(set.Source, "-", set.How)
	fmt.Println(filepath.Base(set.Images[0].Path), set.Images[0].Captions)
	// Output:
	// test - the dataset's test split, 1 image
	// img3.jpg [caption 3]
}
