Gem::Specification.new do |s|
  s.name = "stillprof"
  s.version = "0.1.0"
  s.summary = "Sampling profiler for Ruby that never sends a signal; a drop-in StackProf"
  s.description = "A timer thread flags the GVL holder through Ruby's postponed jobs: " \
    "no SIGALRM/SIGPROF, so blocked system calls (MySQL, HTTP, TLS) never see EINTR. " \
    "require 'stillprof/stackprof' for stackprof 0.2.28's API and dump format."
  s.authors = ["stillprof authors"]
  s.license = "MIT"
  s.required_ruby_version = ">= 3.1"
  s.files = Dir["lib/**/*.rb", "ext/stillprof/*.{c,h,rb}", "README.md"]
  s.extensions = ["ext/stillprof/extconf.rb"]
  s.require_paths = ["lib"]
  s.executables = []
end
