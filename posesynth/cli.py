"""The ``posesynth`` command: one subcommand per job.

Each subcommand's arguments live next to the code that runs it (``add_*_arguments`` / ``run_*``);
this file only wires them into one parser.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

import yaml

from posesynth import __version__
from posesynth.config import ConfigError, load_config, to_dict


def _add_index(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("index", help="list the usable videos under a folder and why others are skipped",
                            description="Probe every video under FOLDER (recursively) and report the usable "
                                        "ones and the skipped ones with the reason.")
    parser.add_argument("folder", type=Path, help="folder of videos (or one video file)")
    parser.add_argument("--min-frames", type=int, default=2, help="skip clips shorter than this (default 2)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    parser.set_defaults(run=_run_index)


def _run_index(args: argparse.Namespace) -> int:
    from posesynth.data.videos import NoUsableVideosError, index_videos

    try:
        index = index_videos(args.folder, min_frames=args.min_frames, progress=True)
    except NoUsableVideosError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for video in index.videos:
        print(f"  ok {video.path}: {video.frames} frames, {video.fps:g} fps, {video.width}x{video.height}")
    print(index.summary())
    if args.json is not None:
        args.json.write_text(json.dumps(index.report(), indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


def _add_config(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="print a resolved, validated config (defaults + file + overrides)",
                            description="Load CONFIG (or the defaults), apply key=value overrides, check "
                                        "every key and type, and print the result as YAML.")
    parser.add_argument("-c", "--config", type=Path, default=None, help="YAML config file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. data.max_gap=20")
    parser.set_defaults(run=_run_config)


def _run_config(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    print(yaml.safe_dump(to_dict(config), sort_keys=False), end="")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train the pose encoder by part-guided synthesis (Accelerate)",
                            description="Train on a folder of videos (data.videos) or a prepared cache "
                                        "(data.cache) with unpaired 3D poses (data.poses3d). Many GPUs: "
                                        "accelerate launch -m posesynth train -c CONFIG --out RUN")
    parser.add_argument("-c", "--config", type=Path, default=None,
                        help="YAML config (default: RUN/config.yaml when resuming, else the defaults)")
    parser.add_argument("--out", type=Path, required=True, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue from RUN's latest checkpoint")
    parser.add_argument("--init", default=None, metavar="RUN",
                        help="start from RUN's weights (fine-tune a self-supervised or depth-pre-trained run); "
                             "same as train.init=RUN")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.steps=500")
    parser.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from posesynth.train import NonFiniteLossError, train

    config_path = args.config
    if config_path is None and args.resume and (args.out / "config.yaml").is_file():
        config_path = args.out / "config.yaml"
    overrides = list(args.overrides) + ([f"train.init={args.init}"] if args.init else [])
    config = load_config(config_path, overrides)
    try:
        run = train(config, args.out, resume=args.resume)
    except NonFiniteLossError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    print(f"trained: {run} (model.pt, log.jsonl, samples/, checkpoints/)")
    return 0


def _command(sub: argparse._SubParsersAction, name: str, add_arguments: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int], help: str, description: str) -> None:
    """One subcommand whose arguments and entry point live in the module that runs it."""
    parser = sub.add_parser(name, help=help, description=description)
    add_arguments(parser)
    parser.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    """The full ``posesynth`` argument parser."""
    from posesynth import demo, depth_labels, evaluate, h36m_labels, predict, pretrain_depth, visualize
    from posesynth.data import cache, synthetic

    parser = argparse.ArgumentParser(prog="posesynth", description="Learn 3D human pose from unlabeled video.")
    parser.add_argument("--version", action="version", version=f"posesynth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    _command(sub, "synth", synthetic.add_synth_arguments, synthetic.run_synth,
             "render synthetic puppet-world videos with known 3D pose",
             "Render videos of a textured 3D body with 3D/2D labels.")
    _command(sub, "prepare", cache.add_prepare_arguments, cache.run_prepare,
             "decode videos once into a cropped frame cache",
             "Decode each video once, crop around the person, store uint8 frames, backgrounds and boxes, "
             "and write report.json.")
    _command(sub, "demo", demo.add_demo_arguments, demo.run_demo,
             "train on the bundled synthetic clips (CPU, minutes) and evaluate",
             "Train on assets/demo/train with configs/demo.yaml, then report PA-MPJPE and N-MPJPE of the model "
             "and of the mean-pose baseline on the held-out clips.")
    _add_train(sub)
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
    _add_index(sub)
    _add_config(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``posesynth`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.run(args) or 0)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
