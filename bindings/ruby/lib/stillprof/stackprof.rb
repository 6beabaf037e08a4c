# require "stillprof/stackprof": a StackProf module with stackprof 0.2.28's
# API (run, start, stop, results, running?, sample, use_postponed_job!),
# backed by Stillprof.  Loading it next to the real stackprof gem is an
# error: both define ::StackProf.
require "stillprof"

if defined?(::StackProf) && !(::StackProf.respond_to?(:stillprof?) && ::StackProf.stillprof?)
  raise LoadError, "stillprof/stackprof: the stackprof gem is already loaded"
end

module StackProf
  VERSION = Stillprof::STACKPROF_VERSION

  autoload :Middleware, "stillprof/middleware"

  class << self
    def stillprof?
      true
    end

    def start(**opts)
      Stillprof.start(**opts)
    end

    def stop
      Stillprof.stop
    end

    def running?
      Stillprof.running?
    end

    def sample
      Stillprof.sample
    end

    def results(out = nil)
      Stillprof.results(out)
    end

    def run(**opts, &block)
      raise LocalJumpError, "no block given" unless block
      Stillprof.run(**opts, &block)
    end

    # stackprof samples in a postponed job after this call; stillprof
    # always does, so there is nothing to switch.
    def use_postponed_job!
      nil
    end
  end

  # The report classes (Report, the CLI) come from the stackprof gem when
  # it is installed: dumps written here are stackprof dumps.
  def self.const_missing(name)
    if name == :Report
      begin
        gem_lib = Gem::Specification.find_by_name("stackprof").full_require_paths.first
        require File.join(gem_lib, "stackprof/report")
        return const_get(:Report) if const_defined?(:Report, false)
      rescue LoadError, Gem::MissingSpecError
      end
    end
    super
  end
end
