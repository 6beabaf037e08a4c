# StackProf::Middleware for Rack, with stackprof's options: enabled (bool
# or ->(env)), mode (default :cpu), interval (1000), raw (false), metadata,
# save_every (N requests), path ("tmp/"; a trailing "/" is a directory),
# save_at_exit.  Every request runs between start and stop; data
# accumulate until save.
require "fileutils"
require "stillprof/stackprof"

module StackProf
  class Middleware
    class << self
      attr_accessor :enabled, :mode, :interval, :raw, :path, :metadata,
                    :save_every

      def enabled?(env)
        enabled.respond_to?(:call) ? enabled.call(env) : enabled
      end

      def save
        results = StackProf.results
        return unless results
        FileUtils.mkdir_p(path) if path.end_with?("/")
        file = path.end_with?("/") ?
          File.join(path, "stackprof-#{results[:mode]}-#{Process.pid}-#{Time.now.to_i}.dump") : path
        File.binwrite(file, Marshal.dump(results))
        file
      end
    end

    def initialize(app, options = {})
      @app = app
      @num_reqs = 0
      Middleware.mode = options[:mode] || :cpu
      Middleware.interval = options[:interval] || 1000
      Middleware.raw = options[:raw] || false
      Middleware.enabled = options[:enabled]
      Middleware.metadata = options[:metadata] || {}
      Middleware.path = options[:path] || "tmp/"
      Middleware.save_every = options[:save_every] || nil
      at_exit { Middleware.save } if options[:save_at_exit]
    end

    def call(env)
      enabled = Middleware.enabled?(env)
      if enabled
        StackProf.start(mode: Middleware.mode, interval: Middleware.interval,
                        raw: Middleware.raw, metadata: Middleware.metadata)
      end
      @app.call(env)
    ensure
      if enabled
        StackProf.stop
        if Middleware.save_every && (@num_reqs += 1) % Middleware.save_every == 0
          Middleware.save
        end
      end
    end
  end
end
