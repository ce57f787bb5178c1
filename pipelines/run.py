"""`run`: load the chosen providers one after the other, with progress and a closing line (or a
JSON summary) per provider."""

import argparse
import json
import sys
from typing import Optional

from sources._common.errors import ConfigError


def run_command(args: argparse.Namespace, providers: list[str], backfill: Optional[tuple]) -> int:
    from .catalog import select
    from .cli import exit_code
    from .display import make_display
    from .fanout import run_accounts, summary
    from .report import as_json
    from .runner import ProviderResult, run_provider

    display = make_display(args.progress, args.progress_interval)
    results = []
    try:
        for provider in providers:
            try:
                selection = select(provider, args.resources, args.queries)
            except ConfigError as exc:
                provider_results = [ProviderResult(provider, exit_code=exc.exit_code, message=str(exc))]
            else:
                provider_results = run_accounts(provider, args.destination, backfill, args.pipelines_dir,
                                                args.windows_per_load, args.accounts, args.parallel, args.log_level,
                                                selection)
                if provider_results is None:  # one pipeline: progress shown as it goes
                    display.start(provider)
                    provider_results = [run_provider(provider, args.destination, backfill, args.pipelines_dir,
                                                     args.windows_per_load, selection=selection,
                                                     on_change=display.update)]
                    display.finish(provider_results[0])
            results.extend(provider_results)
            for result in provider_results:
                if not result.ok or not args.json:
                    print(result.message, file=sys.stdout if result.ok else sys.stderr, flush=True)
            if provider_results[0].account and not args.json:
                ok = all(r.ok for r in provider_results)
                print(summary(provider, provider_results), file=sys.stdout if ok else sys.stderr, flush=True)
    finally:
        display.close()
    if args.json:
        print(json.dumps([as_json(r) for r in results], indent=2), flush=True)
    return exit_code([r.exit_code for r in results])

