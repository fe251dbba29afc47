package finetune

import (
	"encoding/json"
	"os"
	"testing"
)

type parityMeta struct {
	captions  [][]int64
	promptLen int
}

func readParityMeta(t *testing.T) parityMeta {
	t.Helper()
	data, err := os.ReadFile("../inference/testdata/parity/tiny-a.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		InputIDs      [][]int64 `json:"input_ids"`
		AttentionMask [][]int64 `json:"attention_mask"`
		PromptLen     int       `json:"prompt_len"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	m := parityMeta{promptLen: raw.PromptLen}
	for i, row := range raw.InputIDs {
		n := 0
		for _, v := range raw.AttentionMask[i] {
			n += int(v)
		}
		m.captions = append(m.captions, row[:n])
	}
	return m
}
