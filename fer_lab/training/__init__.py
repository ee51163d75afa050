"""Training: class weights, optimizers and schedules, resumable two-phase fitting, the train pipeline."""
