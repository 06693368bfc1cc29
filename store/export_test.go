package store

// SeedTasks lets the external tests and benchmarks seed big projects fast.
var SeedTasks = seedTasks
