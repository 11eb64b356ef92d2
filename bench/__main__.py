"""python3 -m tools bench {training,seeds,grading,boundary,journey,fullprofile,facts,device-prepare} [options]"""

import sys

from bench import boundary, device_check, facts, fullprofile, grading, journey, seeds, training

BENCHMARKS = {
    "training": training.main,
    "seeds": seeds.main,
    "grading": grading.main,
    "boundary": boundary.main,
    "journey": journey.main,
    "device-prepare": device_check.prepare,
    "fullprofile": fullprofile.main,
    "facts": facts.main,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python3 -m tools bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        sys.exit(2)
    sys.exit(BENCHMARKS[sys.argv[1]](sys.argv[2:]))
