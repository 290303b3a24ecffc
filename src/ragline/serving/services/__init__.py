"""The application services both doors call: the CLI (`ragline.serving.cli`) and the HTTP API
(`ragline.serving.api`) parse and print; the work is here.

    query.ask(question, retriever, model, settings.answer)        # ragline ask, POST /v1/query
    ingest.ingest_paths(settings, costs, store, paths, progress)  # ragline ingest, /v1/ingest
    monitor.health_report(settings, "1d", None, now)              # ragline monitor check
    evals.run.run_eval(suite, settings, console)                  # ragline eval
    synth.run_synthesize(settings, options, console)              # ragline synthesize
"""
