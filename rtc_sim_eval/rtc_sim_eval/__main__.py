"""`python -m rtc_sim_eval ...` runs rtc_sim_eval."""
import sys

from rtc_sim_eval.cli import main

sys.exit(main())
