"""What every command shares: one-line errors with exit codes, and the
options for choosing and reading an image."""

from __future__ import annotations

import functools
import os
import sys

import click

from ..errors import LayerscopeError, os_error
from ..gcpause import paused_gc


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"layerscope: error: {message}", err=True)
    sys.exit(code)


def warning(where: str, message: str) -> None:
    """One warning line on stderr, as errors are (``layerscope: warning: WHERE: MESSAGE``)."""
    click.echo(f"layerscope: warning: {where}: {' '.join(message.split())}", err=True)


def warn(report) -> None:
    """A source's warnings, for commands whose output has no place for them: one stderr line each."""
    for m in report.source_warnings:
        warning(report.path, m)


# Set by the ``layerscope`` executable (layerscope.entry), not by click's test runner or a
# library caller: the process ends with the command, so what the command made is frozen
# rather than walked once more by the collector on the way out (see gcpause.py).
PROCESS = {"one_shot": False}


def handle_errors(fn):
    """Turn every failure into one stderr line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            # a command is one batch job: rendering makes as many objects as scanning
            with paused_gc(freeze=PROCESS["one_shot"]):
                return fn(*args, **kwargs)
        except LayerscopeError as e:
            if os.environ.get("LAYERSCOPE_DEBUG"):
                raise
            _fail(" ".join(str(e).split()), e.exit_code)
        except BrokenPipeError:
            sys.stderr.close()  # `layerscope ... | head`: not an error worth a word
            sys.exit(0)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except MemoryError:
            _fail("out of memory", 2)
        except OSError as e:
            if os.environ.get("LAYERSCOPE_DEBUG"):
                raise
            _fail(str(os_error(e, where=e.filename)))
        except Exception as e:  # noqa: BLE001 - a bug must still not spill a traceback on users
            if os.environ.get("LAYERSCOPE_DEBUG"):
                raise
            _fail(f"internal error: {type(e).__name__}: {e} (LAYERSCOPE_DEBUG=1 shows a traceback)")

    return wrapper


def _insecure(_ctx, _param, hosts) -> None:
    if hosts:
        from ..source.registry.client import allow_insecure

        allow_insecure(hosts)


def registry_options(fn):
    """Options of every command that may read an image from a registry."""
    return click.option("--insecure-registry", "insecure_registries", metavar="HOST[:PORT]", multiple=True,
                        expose_value=False, callback=_insecure,
                        help="Allow plain HTTP and unverified TLS to this registry (loopback hosts always "
                             "are; also LAYERSCOPE_INSECURE_REGISTRIES=HOST,...).")(fn)


def _max_layer_size(_ctx, _param, value) -> None:
    from ..source.limits import parse_limit, set_max_layer_size

    try:  # set on every run, so one in-process run's limit never leaks into the next
        set_max_layer_size("default" if value is None else parse_limit(value))
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def layer_limit_options(fn):
    """Options of every command that inflates layers (the decompression-bomb limit)."""
    return click.option("--max-layer-size", metavar="SIZE|off", expose_value=False, callback=_max_layer_size,
                        help="Refuse a layer that expands past SIZE uncompressed (default: 100 x its compressed "
                             "size + 1 GiB, at most 64 GiB; also LAYERSCOPE_MAX_LAYER_SIZE).")(fn)


def image_options(fn):
    """Options every command that reads one image takes."""
    fn = registry_options(fn)
    fn = layer_limit_options(fn)
    fn = click.option("--image", "image_name", metavar="NAME|N",
                      help="Which image of a multi-image archive/layout: tag, ref name or index.")(fn)
    fn = click.option("--platform", metavar="OS/ARCH[/VARIANT]",
                      help="Platform to pick from a multi-platform index (default: the host's).")(fn)
    fn = click.option("--no-verify", is_flag=True, help="Skip blob digest and diff_id checks (faster).")(fn)
    fn = click.option("--cache/--no-cache", "use_cache", default=True, show_default=True,
                      help="Reuse layer scans from the layer cache (LAYERSCOPE_CACHE, else ~/.cache/layerscope); "
                           "a hit still verifies the blob.")(fn)
    fn = click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
                      help="Layers read in parallel (default: CPUs available).")(fn)
    fn = click.option("--progress/--no-progress", default=None,
                      help="Progress bar on stderr (default: only on a terminal).")(fn)
    return fn


def many_images_options(fn):
    """Options of the commands that read the layers of many images (``savings``, ``workload``), here
    or on a dask cluster (layerscope/fleet)."""
    fn = click.option("--work-dir", metavar="DIR",
                      help="With --scheduler: where workers leave the layers' digest tables; a path every worker "
                           "and this machine reach (a shared file system). Default: a temporary directory here "
                           "(enough for processes, threads and workers on this machine).")(fn)
    fn = click.option("--scheduler", metavar="processes|threads|tcp://HOST:PORT", default=None,
                      help="Read the layers on a dask.distributed cluster: a local one of worker processes or "
                           "threads, or a running scheduler (default: DASK_SCHEDULER_ADDRESS, else this "
                           "machine's thread pool). Needs the dask extra; same results (docs/fleet.md).")(fn)
    fn = click.option("--progress/--no-progress", default=None,
                      help="Progress bar on stderr (default: only on a terminal).")(fn)
    fn = click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
                      help="Layers read in parallel (default: CPUs available).")(fn)
    fn = click.option("--no-verify", is_flag=True, help="Skip blob digest and diff_id checks (faster).")(fn)
    fn = click.option("--platform", metavar="OS/ARCH[/VARIANT]",
                      help="Platform to pick from multi-platform indexes (default: the host's).")(fn)
    return fn
