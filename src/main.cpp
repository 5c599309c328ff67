#include "app/cli.hpp"

int main(int argc, char** argv) { return fedsaf::app::run_cli(argc, argv); }
