"""The classical-ML track's commands: `ragline ml`, `abtest`, `deploy`, `features`, `frame`,
`score`."""
