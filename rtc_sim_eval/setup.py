from setuptools import find_packages, setup

package_name = "rtc_sim_eval"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rtc-ros2 maintainers",
    maintainer_email="maintainers@rtc-ros2.dev",
    description="RTC evaluated on the simulated SO-100 task in simulated ticks, and the built-in policy's training.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rtc_sim_eval = rtc_sim_eval.cli:main",
            "rtc_train_builtin_policy = rtc_sim_eval.train_builtin:main",
        ],
    },
)
