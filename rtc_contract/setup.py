from setuptools import find_packages, setup

package_name = "rtc_contract"

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
    description="What the policy side and the arm side agree on (pure Python): modes, topics, chunk signatures, noise.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rtc_keygen = rtc_contract.keygen:main",
        ],
    },
)
