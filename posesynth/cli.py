"""The ``posesynth`` command: one subcommand per job, and one place where errors are reported.

Each subcommand's arguments live next to the code that runs it (``add_*_arguments`` / ``run_*``);
this file wires them into one parser and runs the chosen one inside :func:`main`'s error
boundary: an expected error (bad input, bad config, a missing or unreadable file, a full disk)
is printed as one ``error: ...`` line naming the file or key, with exit status 2 (3 for a loss
that stopped being finite); anything else is a bug and shows its traceback. ``--debug`` (or
``POSESYNTH_DEBUG=1``) shows the traceback of expected errors too.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

import yaml

from posesynth import __version__
from posesynth.config import load_config, to_dict

# The namespace attribute holding a subcommand's entry point: no argument can be named like this
# (a positional called "run" once replaced the handler of `predict` and `visualize`).
HANDLER = "_posesynth_handler"
EXIT_ERROR, EXIT_NONFINITE, EXIT_BUG, EXIT_INTERRUPTED = 2, 3, 1, 130
PACKAGE_DIR = Path(__file__).resolve().parent

_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exhausted: free some space or write elsewhere",
    errno.EFBIG: "the file grew past the size this system allows (ulimit -f or the file system's limit)",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions of the file and its folder",
    errno.EISDIR: "a folder was given where a file is expected",
    errno.ENOTDIR: "a file was given where a folder is expected",
    errno.ENOENT: "check the path",
}
# libraries report a failed write (a full disk, a size limit) in their own exception types, with
# these words: torch's zip writer (RuntimeError), safetensors (SafetensorError), ...
_WRITE_FAILURES = ("PytorchStreamWriter failed", "file write failed", "No space left on device", "File too large",
                   "Disk quota exceeded")


# --- subcommands defined here -------------------------------------------------------------------

def _add_index(parser: argparse.ArgumentParser) -> None:
    from posesynth.video.index import add_clip_length_arguments

    parser.add_argument("folder", type=Path, help="folder of videos (or one video file)")
    add_clip_length_arguments(parser)
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")


def _run_index(args: argparse.Namespace) -> int:
    from posesynth.video.index import clip_min_frames, index_videos

    index = index_videos(args.folder, min_frames=clip_min_frames(args), progress=True)
    for video in index.videos:
        print(f"  ok {video.path}: {video.frames} frames, {video.fps:g} fps, {video.width}x{video.height}")
    print(index.summary())
    if args.json is not None:
        args.json.write_text(json.dumps(index.report(), indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, default=None, help="YAML config file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. data.max_gap=20")


def _run_config(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    print(yaml.safe_dump(to_dict(config), sort_keys=False), end="")
    return 0


def _add_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, default=None,
                        help="YAML config (default: RUN/config.yaml when resuming, else the defaults)")
    parser.add_argument("--out", type=Path, required=True, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue from RUN's latest checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in RUN (its config.yaml, log.jsonl, checkpoints/, model.pt, "
                             "samples/, tb/); without it such a folder is refused")
    parser.add_argument("--init", default=None, metavar="RUN",
                        help="start from RUN's weights (fine-tune a self-supervised or depth-pre-trained run); "
                             "same as train.init=RUN")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="read pickle-based data files (VideoPose3D npz, cameras.pkl); same as "
                             "data.trust_pickle=true. Unpickling a file can run code: trust its source")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.steps=500")


def _run_train(args: argparse.Namespace) -> int:
    from posesynth.training.rundir import RunDirError, claim_run
    from posesynth.training.train import train

    config_path = args.config
    if config_path is None and args.resume and (args.out / "config.yaml").is_file():
        config_path = args.out / "config.yaml"
    overrides = (list(args.overrides) + ([f"train.init={args.init}"] if args.init else [])
                 + (["data.trust_pickle=true"] if args.trust_pickle else []))
    config = load_config(config_path, overrides)
    with claim_run(args.out, resume=args.resume, overwrite=args.overwrite, steps=config.train.steps):
        try:
            run = train(config, args.out, resume=args.resume)
        except Exception as error:
            if not (isinstance(error, OSError) or write_failure(error)):
                raise
            raise RunDirError(f"{args.out}: {expected_error_message(error)}. Checkpoints are written atomically: "
                              f"once there is space, continue with `posesynth train --out {args.out} --resume` "
                              f"(or start again if no checkpoint was saved)") from error
    missing = [name for name in ("model.pt", "log.jsonl") if not (run / name).is_file()]
    if missing:
        raise RunDirError(f"{run}: training ended without writing {', '.join(missing)}: no step was trained")
    print(f"trained: {run} (model.pt, log.jsonl, samples/, checkpoints/)")
    return 0


# --- the parser ---------------------------------------------------------------------------------

def _debug_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback of an error (also: POSESYNTH_DEBUG=1)")


def _command(sub: argparse._SubParsersAction, name: str, add_arguments: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int], help: str, description: str) -> None:
    """One subcommand whose arguments and entry point live in the module that runs it."""
    parser = sub.add_parser(name, help=help, description=description)
    add_arguments(parser)
    _debug_option(parser, argparse.SUPPRESS)  # after the subcommand too; unset unless given
    parser.set_defaults(**{HANDLER: run})


def build_parser() -> argparse.ArgumentParser:
    """The full ``posesynth`` argument parser."""
    from posesynth.apps import demo, predict, visualize
    from posesynth.data import depth_labels
    from posesynth.evaluation import command as evaluate
    from posesynth.datasets.h36m import label_files as h36m_labels
    from posesynth.training import pretrain_depth
    from posesynth.data import prepare
    from posesynth.synth import dataset as synthetic
    from posesynth.detect import keypoints

    parser = argparse.ArgumentParser(prog="posesynth", description="Learn 3D human pose from unlabeled video.")
    parser.add_argument("--version", action="version", version=f"posesynth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    _debug_option(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    _command(sub, "synth", synthetic.add_synth_arguments, synthetic.run_synth,
             "render synthetic puppet-world videos with known 3D pose",
             "Render videos of a textured 3D body with 3D/2D labels.")
    _command(sub, "prepare", prepare.add_prepare_arguments, prepare.run_prepare,
             "decode videos once into a cropped frame cache",
             "Decode each video once, crop around the person, store uint8 frames, backgrounds and boxes, "
             "and write report.json.")
    _command(sub, "demo", demo.add_demo_arguments, demo.run_demo,
             "train on the bundled synthetic clips (CPU, minutes) and evaluate",
             "Train on assets/demo/train with configs/demo.yaml, then report PA-MPJPE and N-MPJPE of the model "
             "and of the mean-pose baseline on the held-out clips.")
    _command(sub, "train", _add_train, _run_train,
             "train the pose encoder by part-guided synthesis (Accelerate)",
             "Train on a folder of videos (data.videos) or a prepared cache (data.cache) with unpaired 3D poses "
             "(data.poses3d). Many GPUs: accelerate launch -m posesynth train -c CONFIG --out RUN")
    _command(sub, "eval", evaluate.add_eval_arguments, evaluate.run_eval,
             "score 3D poses: Human3.6M protocols, synthetic sets, MPI-INF-3DHP",
             "Per-action MPJPE / PA-MPJPE / N-MPJPE on Human3.6M (default S9, S11, 4 cameras) for a trained run "
             "or a predictions file, per-motion on synthetic sets, PCK/AUC on MPI-INF-3DHP.")
    _command(sub, "visualize", visualize.add_visualize_arguments, visualize.run_visualize,
             "PNG figures and an HTML page of what a model learned",
             "Part maps, appearance x pose swap grid, novel views, 3D skeletons, SSIM/PSNR and training curves "
             "for VIDEO_OR_FOLDER.")
    _command(sub, "predict", predict.add_predict_arguments, predict.run_predict,
             "3D joints (poses.npz/json) and an overlay video for a video",
             "Stream VIDEO through a trained encoder; write DIR/poses.npz, poses.json and overlay.mp4.")
    _command(sub, "keypoints", keypoints.add_keypoints_arguments, keypoints.run_keypoints,
             "2D keypoints of every frame with the bundled detector (posesynth[detect])",
             "Detect the person in every frame of every video (or every image) with MediaPipe Pose (bundled model, "
             "no download), map it onto the Human3.6M 17 joints and write <stem>.keypoints.npz sidecars (a folder "
             "of images: keypoints.npz) that boxes and the keypoint losses read.")
    _command(sub, "depth-labels", depth_labels.add_depth_labels_arguments, depth_labels.run_depth_labels,
             "relative-depth labels (closer / farther / equal) from 2D keypoint annotations",
             "Make WSP-style depth-order labels with confidences for every joint pair of every person of a "
             "COCO-style 2D keypoint file, from perspective cues alone.")
    _command(sub, "pretrain-depth", pretrain_depth.add_pretrain_arguments, pretrain_depth.run_pretrain,
             "pre-train the pose encoder on 2D keypoints + relative-depth labels",
             "Train the pose branch on person crops with 2D keypoints and depth-order labels (WSP's "
             "pre-training); fine-tune afterwards with `posesynth train --init RUN`.")
    _command(sub, "h36m-labels", h36m_labels.add_h36m_labels_arguments, h36m_labels.run_h36m_labels,
             "write Human3.6M 3D poses as per-video label files (data.labels3d)",
             "Read Human3.6M (original, VideoPose3D or mmpose layout) and write "
             "OUT/<subject>/Videos/<sequence>.<camera>.npz label files (joints3d metres, camera frame; K) for "
             "semi-supervised training.")
    _command(sub, "index", _add_index, _run_index,
             "list the usable videos under a folder and why others are skipped",
             "Probe every video under FOLDER (recursively) and report the usable ones and the skipped ones with "
             "the reason.")
    _command(sub, "config", _add_config, _run_config,
             "print a resolved, validated config (defaults + file + overrides)",
             "Load CONFIG (or the defaults), apply key=value overrides, check every key, type and range, and "
             "print the result as YAML.")
    return parser


# --- the error boundary -------------------------------------------------------------------------

def _raised_in_posesynth(error: BaseException) -> bool:
    """Whether the innermost frame of ``error``'s traceback is posesynth's own code."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(PACKAGE_DIR)


def _os_error_message(error: OSError) -> str:
    """``file: reason; what to do`` for an operating-system error."""
    where = f"{error.filename}: " if error.filename else ""
    reason = error.strerror or str(error)
    hint = _OS_HINTS.get(error.errno)
    return f"{where}{reason}" + (f" ({hint})" if hint else "")


def expected_error_message(error: BaseException) -> str | None:
    """The message of an error a user can act on, or None for an unexpected one (a bug).

    Expected: operating-system errors (missing, unreadable or unwritable files, a full disk),
    posesynth's own exception types, ``ValueError``s raised by posesynth's code (they name the
    file or key), and a library's report of a failed write (:func:`write_failure`).
    """
    if isinstance(error, OSError):
        return _os_error_message(error)
    if type(error).__module__.split(".")[0] == "posesynth":
        return str(error)
    if isinstance(error, ValueError) and _raised_in_posesynth(error):
        return str(error)
    return write_failure(error)


def write_failure(error: BaseException) -> str | None:
    """The message of a failed write reported by a library (not as an OSError), or None."""
    if not any(words in str(error) for words in _WRITE_FAILURES):
        return None
    return (f"writing a file failed ({str(error).strip().splitlines()[-1]}): the disk may be full or the file too "
            f"large; free some space or write elsewhere")


def _exit_status(error: BaseException) -> int:
    from posesynth.training.loop import NonFiniteLossError

    return EXIT_NONFINITE if isinstance(error, NonFiniteLossError) else EXIT_ERROR


def debug_requested(args: argparse.Namespace) -> bool:
    """``--debug`` was given or ``POSESYNTH_DEBUG`` is set to something other than 0/empty."""
    return bool(getattr(args, "debug", False)) or os.environ.get("POSESYNTH_DEBUG", "0") not in ("", "0")


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; ``key=value`` overrides may also follow options (``train --init RUN train.steps=5``).

    argparse ends a positional list at the first option; the ``key=value`` words it leaves over
    are appended to the subcommand's overrides. Anything else left over is a usage error.
    """
    args, extra = parser.parse_known_args(argv)
    if extra:
        overrides = getattr(args, "overrides", None)
        if not isinstance(overrides, list) or not all("=" in word and not word.startswith("-") for word in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*overrides, *extra]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``posesynth`` console script; returns the exit status."""
    parser = build_parser()
    args = parse(parser, argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    debug = debug_requested(args)
    try:
        return int(getattr(args, HANDLER)(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the boundary: every error ends here as one line, or as a bug report
        message = expected_error_message(error)
        if message is None:
            traceback.print_exc()
            print(f"error: unexpected {type(error).__name__} (a bug in posesynth?): {error}\n"
                  f"please report it with the traceback above", file=sys.stderr)
            return EXIT_BUG
        if debug:
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr)
        return _exit_status(error)

if __name__ == "__main__":
    sys.exit(main())
