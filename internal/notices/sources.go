package notices

import (
	"archive/zip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// licenseNames are the file names, compared without case, that hold a module's license, in the
// order they are reproduced; NOTICE files come along because Apache-2.0 asks for them.
var licenseNames = []string{"LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING", "COPYING.txt", "UNLICENSE", "NOTICE"}

// GoModuleEntries reads the license files of mods from the module cache (go env GOMODCACHE) and
// names their license. A module without a license file, or with one Classify does not know, is an
// error: someone has to look at it before it ships.
func GoModuleEntries(mods []Module, modcache string) ([]Entry, error) {
	var out []Entry
	for _, m := range mods {
		dir := filepath.Join(modcache, escapePath(m.Path)+"@"+escapePath(m.Version))
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("module %s %s: %w (run go mod download)", m.Path, m.Version, err)
		}
		e := Entry{Name: m.Path, Version: m.Version}
		for _, want := range licenseNames {
			for _, f := range files {
				if f.IsDir() || !strings.EqualFold(f.Name(), want) {
					continue
				}
				body, err := os.ReadFile(filepath.Join(dir, f.Name()))
				if err != nil {
					return nil, fmt.Errorf("module %s: %w", m.Path, err)
				}
				e.Texts = append(e.Texts, Text{Source: f.Name(), Body: string(body)})
			}
		}
		if len(e.Texts) == 0 {
			return nil, fmt.Errorf("module %s %s: no license file in %s", m.Path, m.Version, dir)
		}
		if e.License, err = Classify(e.Texts[0].Body); err != nil {
			return nil, fmt.Errorf("module %s %s, %s: %w", m.Path, m.Version, e.Texts[0].Source, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// escapePath is the module cache's case encoding: every upper-case letter becomes '!' and its
// lower case (github.com/BurntSushi → github.com/!burnt!sushi).
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var spdxLine = regexp.MustCompile(`SPDX-License-Identifier:\s*(.+)`)

// Classify names the license of a license file as an SPDX expression, from the phrases each
// license's text is built around; a file that holds several licenses for different parts (yaml.v3:
// MIT and Apache-2.0) gets them joined with AND. It knows the licenses found in Captune's
// dependencies and reports anything else as an error rather than guess.
func Classify(text string) (string, error) {
	if m := spdxLine.FindStringSubmatch(text); m != nil {
		return strings.TrimSpace(m[1]), nil
	}
	flat := strings.Join(strings.Fields(text), " ") // phrases wrap differently in every file
	has := func(s ...string) bool {
		for _, x := range s {
			if !strings.Contains(flat, x) {
				return false
			}
		}
		return true
	}
	var ids []string
	if has("Permission is hereby granted, free of charge") {
		ids = append(ids, "MIT")
	}
	if has("Apache License", "Version 2.0") {
		ids = append(ids, "Apache-2.0")
	}
	switch {
	case has("Redistribution and use in source and binary forms", "to endorse or promote"):
		ids = append(ids, "BSD-3-Clause")
	case has("Redistribution and use in source and binary forms"):
		ids = append(ids, "BSD-2-Clause")
	}
	if has("distribute this software for any purpose with or without fee is hereby granted") {
		ids = append(ids, "ISC")
	}
	if has("Mozilla Public License", "2.0") {
		ids = append(ids, "MPL-2.0")
	}
	if has("This is free and unencumbered software released into the public domain") {
		ids = append(ids, "Unlicense")
	}
	if len(ids) == 0 {
		return "", errors.New("license not recognised: add its phrases to notices.Classify")
	}
	return strings.Join(ids, " AND "), nil
}

// The native libraries' versions, as scripts/setup.sh pins them.
const (
	TorchVersion       = "2.1.0"
	CUDARuntimeVersion = "12.1.105"
	// LibjpegTurboVersion is Debian 12's libjpeg62-turbo, which scripts/setup.sh installs and
	// scripts/package.sh bundles.
	LibjpegTurboVersion = "2.1.5"
)

//go:embed gcc-exception-3.1.txt
var gccException string

// libjpeg-turbo's LICENSE.md and the legal section of its README.ijg, which the IJG license asks
// to keep with the library.
var (
	//go:embed libjpeg-turbo-LICENSE.md
	libjpegTurboLicense string
	//go:embed libjpeg-turbo-ijg-legal.txt
	libjpegTurboIJG string
)

// NativeEntries describes the libraries the release archive bundles, with the license texts read
// from the wheels scripts/setup.sh downloaded into wheelsDir.
func NativeEntries(wheelsDir string) ([]Entry, error) {
	torch, err := wheelTexts(wheelsDir, "torch-"+TorchVersion+"-", "torch-"+TorchVersion+".dist-info/LICENSE", "torch-"+TorchVersion+".dist-info/NOTICE")
	if err != nil {
		return nil, err
	}
	cudart, err := wheelTexts(wheelsDir, "nvidia_cuda_runtime_cu12-"+CUDARuntimeVersion+"-", "nvidia_cuda_runtime_cu12-"+CUDARuntimeVersion+".dist-info/License.txt")
	if err != nil {
		return nil, err
	}
	cupti, err := wheelTexts(wheelsDir, "nvidia_cuda_cupti_cu12-"+CUDARuntimeVersion+"-", "nvidia_cuda_cupti_cu12-"+CUDARuntimeVersion+".dist-info/License.txt")
	if err != nil {
		return nil, err
	}
	nvidia := append([]Text(nil), cudart...)
	if cupti[0].Body != cudart[0].Body { // today the same agreement; keep both if they ever differ
		nvidia = append(nvidia, cupti...)
	}
	return []Entry{
		{Name: "PyTorch: libtorch_cpu.so, libc10.so", Version: TorchVersion, License: "BSD-3-Clause (with the licenses of the libraries PyTorch bundles)",
			Note: "From the torch " + TorchVersion + " wheel (manylinux2014 x86_64) on PyPI; source: https://github.com/pytorch/pytorch/tree/v" + TorchVersion +
				". The wheel's LICENSE covers PyTorch and Caffe2 and lists the third-party libraries compiled into libtorch_cpu.so (oneDNN, FBGEMM, XNNPACK, sleef, protobuf and others) with their licenses; it and the wheel's NOTICE are reproduced in full.",
			Texts: torch},
		{Name: "GNU OpenMP runtime: libgomp-a34b3233.so.1", Version: "as in the torch " + TorchVersion + " wheel", License: "GPL-3.0-or-later WITH GCC-exception-3.1",
			Note:  "Part of GCC, loaded by libtorch_cpu.so for its parallel loops; source: https://gcc.gnu.org/ (libgomp). The GPL version 3 is reproduced in LICENSE; the GCC Runtime Library Exception follows.",
			Texts: []Text{{Source: "GCC Runtime Library Exception 3.1", Body: gccException}}},
		{Name: "NVIDIA CUDA runtime and CUPTI: libcudart.so.12, libcupti.so.12", Version: CUDARuntimeVersion, License: "NVIDIA CUDA Toolkit EULA (redistributable components, Attachment A)",
			Note: "From the nvidia-cuda-runtime-cu12 and nvidia-cuda-cupti-cu12 " + CUDARuntimeVersion + " wheels on PyPI; libtorch_cpu.so needs both even on a CPU-only machine. " +
				"Redistributed in binary form, unmodified, under NVIDIA's license below. Archives built with GPU=1 also bundle cuBLAS, cuDNN, cuFFT, cuRAND, cuSOLVER, cuSPARSE, NCCL, NVTX, NVRTC and nvJitLink, each under the license in its own nvidia-*-cu12 wheel.",
			Texts: nvidia},
		{Name: "libjpeg-turbo: libjpeg.so.62", Version: LibjpegTurboVersion, License: "IJG AND BSD-3-Clause AND Zlib",
			Note: "This software is based in part on the work of the Independent JPEG Group. From Debian 12's libjpeg62-turbo package; source: https://github.com/libjpeg-turbo/libjpeg-turbo/tree/" + LibjpegTurboVersion +
				". Captune decodes JPEG through its libjpeg API (not the TurboJPEG API). Its LICENSE.md and the legal section of README.ijg are reproduced in full.",
			Texts: []Text{{Source: "libjpeg-turbo LICENSE.md", Body: libjpegTurboLicense}, {Source: "libjpeg-turbo README.ijg, LEGAL ISSUES", Body: libjpegTurboIJG}}},
	}, nil
}

// wheelTexts reads members of the one wheel in dir whose name starts with prefix.
func wheelTexts(dir, prefix string, members ...string) ([]Text, error) {
	matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*.whl"))
	sort.Strings(matches)
	if len(matches) == 0 {
		return nil, fmt.Errorf("no %s*.whl in %s (run scripts/setup.sh)", prefix, dir)
	}
	zr, err := zip.OpenReader(matches[0])
	if err != nil {
		return nil, fmt.Errorf("open wheel: %w", err)
	}
	defer zr.Close()
	var out []Text
	for _, name := range members {
		f, err := zr.Open(name)
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %w", filepath.Base(matches[0]), err)
		}
		body, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("wheel %s, %s: %w", filepath.Base(matches[0]), name, err)
		}
		out = append(out, Text{Source: filepath.Base(matches[0]) + ": " + name, Body: string(body)})
	}
	return out, nil
}

// Credits acknowledges work Captune's own code follows without containing it.
const Credits = `The PTB tokenizer of the caption metrics (finetune/metrics) follows the token grammar of the
PTBLexer of Stanford CoreNLP 3.4.1 (Copyright (C) The Board of Trustees of The Leland Stanford
Junior University; https://github.com/stanfordnlp/CoreNLP), licensed GPL-2.0-or-later, so that its
scores match pycocoevalcap's. This is why Captune as a whole is licensed GPL-3.0-or-later.`
