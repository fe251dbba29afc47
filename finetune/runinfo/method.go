package runinfo

// LoraLRFactor is how much higher a LoRA run's learning rate is than full fine-tuning's when the
// user sets none: the adapters start from zero and are few, and train at about ten times the rate
// (the LoRA paper and peft's examples use 1e-4 to 5e-4 where full runs of the same models take 1e-5
// to 5e-5). With BLIP-base's 2e-5 that is 2e-4.
const LoraLRFactor = 10

// MethodLR is the learning rate a run of method ("full" or "lora") trains at when the user gives
// none: fullLR (the base model's advice, else the default) for full fine-tuning, LoraLRFactor times
// it for LoRA.
func MethodLR(fullLR float64, method string) float64 {
	if method == "lora" {
		return fullLR * LoraLRFactor
	}
	return fullLR
}
