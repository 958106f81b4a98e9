package run

// learningRate is the learning rate for optimizer step (0-based) of total.
//   - linear: warm up linearly over the first warmup steps, then decay
//     linearly to 0 at total (Hugging Face's get_linear_schedule_with_warmup);
//   - stepped: AutoFreeze's reference code: the base rate, x0.7 from 30% of
//     the steps, x0.4 from 60%, after the same warmup;
//   - constant: the base rate after the warmup.
func learningRate(schedule string, base float64, step, total, warmup int) float64 {
	if warmup > 0 && step < warmup {
		return base * float64(step+1) / float64(warmup)
	}
	switch schedule {
	case "linear":
		if total <= warmup {
			return base
		}
		left := float64(total-step) / float64(total-warmup)
		return base * max(left, 0)
	case "stepped":
		switch {
		case step >= total*6/10:
			return base * 0.4
		case step >= total*3/10:
			return base * 0.7
		}
	}
	return base
}
