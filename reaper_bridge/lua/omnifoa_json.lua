-- omnifoa_json.lua: the small JSON reader and writer the omnifoa REAPER scripts share.
-- decode(text) returns a value or raises "json: <what> at <position>"; encode(value) writes
-- objects with sorted keys. Arrays are tables with keys 1..n; json.null stands for null.

local json = { null = setmetatable({}, { __tostring = function() return "null" end }) }

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function fail(text, pos, what)
  error(string.format("json: %s at %d", what, pos), 0)
end

local function skip(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function utf8_char(code)
  return utf8.char(code)
end

local decode_value

local function decode_string(text, pos)
  local parts, i = {}, pos + 1
  while true do
    local c = text:sub(i, i)
    if c == "" then fail(text, i, "unterminated string") end
    if c == '"' then return table.concat(parts), i + 1 end
    if c:byte() < 32 then fail(text, i, "control character in string") end
    if c == "\\" then
      local e = text:sub(i + 1, i + 1)
      if e == "u" then
        local hex = text:sub(i + 2, i + 5)
        if not hex:match("^%x%x%x%x$") then fail(text, i, "bad \\u escape") end
        local code = tonumber(hex, 16)
        i = i + 6
        if code >= 0xD800 and code <= 0xDBFF then
          local low = text:sub(i, i + 5)
          if not low:match("^\\u[dD][c-fC-F]%x%x$") then fail(text, i, "lone surrogate") end
          code = 0x10000 + (code - 0xD800) * 0x400 + (tonumber(low:sub(3), 16) - 0xDC00)
          i = i + 6
        elseif code >= 0xDC00 and code <= 0xDFFF then
          fail(text, i, "lone surrogate")
        end
        parts[#parts + 1] = utf8_char(code)
      elseif escapes[e] then
        parts[#parts + 1] = escapes[e]
        i = i + 2
      else
        fail(text, i, "bad escape")
      end
    else
      local j = text:find('["\\%c]', i)
      if not j then fail(text, i, "unterminated string") end
      parts[#parts + 1] = text:sub(i, j - 1)
      i = j
    end
  end
end

-- A number as JSON writes it: -?(0|[1-9]digits)(.digits)?([eE][-+]?digits)?, nothing looser
-- (no 01, no 1., no .5, no +1), so a job REAPER takes is one any JSON reader takes.
local function decode_number(text, pos)
  local i = pos
  if text:sub(i, i) == "-" then i = i + 1 end
  local whole = text:match("^0", i) or text:match("^[1-9]%d*", i)
  if not whole then fail(text, pos, "bad number") end
  i = i + #whole
  if whole == "0" and text:match("^%d", i) then fail(text, pos, "number with a leading zero") end
  local fraction = text:match("^%.%d*", i)
  if fraction then
    if fraction == "." then fail(text, pos, "bad number") end
    i = i + #fraction
  end
  local exponent = text:match("^[eE][-+]?%d*", i)
  if exponent then
    if not exponent:match("%d$") then fail(text, pos, "bad number") end
    i = i + #exponent
  end
  return tonumber(text:sub(pos, i - 1)), i
end

local function decode_array(text, pos, depth)
  local out, n = {}, 0
  pos = skip(text, pos + 1)
  if text:sub(pos, pos) == "]" then return out, pos + 1 end
  while true do
    local value
    value, pos = decode_value(text, pos, depth + 1)
    n = n + 1
    out[n] = value
    pos = skip(text, pos)
    local c = text:sub(pos, pos)
    if c == "]" then return out, pos + 1 end
    if c ~= "," then fail(text, pos, "expected , or ]") end
    pos = skip(text, pos + 1)
  end
end

local function decode_object(text, pos, depth)
  local out = {}
  pos = skip(text, pos + 1)
  if text:sub(pos, pos) == "}" then return out, pos + 1 end
  while true do
    if text:sub(pos, pos) ~= '"' then fail(text, pos, "expected a key") end
    local key
    key, pos = decode_string(text, pos)
    pos = skip(text, pos)
    if text:sub(pos, pos) ~= ":" then fail(text, pos, "expected :") end
    out[key], pos = decode_value(text, skip(text, pos + 1), depth + 1)
    pos = skip(text, pos)
    local c = text:sub(pos, pos)
    if c == "}" then return out, pos + 1 end
    if c ~= "," then fail(text, pos, "expected , or }") end
    pos = skip(text, pos + 1)
  end
end

decode_value = function(text, pos, depth)
  if depth > 32 then fail(text, pos, "nested too deeply") end
  pos = skip(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" then return decode_object(text, pos, depth) end
  if c == "[" then return decode_array(text, pos, depth) end
  if c == '"' then return decode_string(text, pos) end
  if c == "-" or c:match("%d") then return decode_number(text, pos) end
  if text:sub(pos, pos + 3) == "true" then return true, pos + 4 end
  if text:sub(pos, pos + 4) == "false" then return false, pos + 5 end
  if text:sub(pos, pos + 3) == "null" then return json.null, pos + 4 end
  fail(text, pos, "unexpected character")
end

function json.decode(text)
  if type(text) ~= "string" then error("json: input is not text", 0) end
  local value, pos = decode_value(text, 1, 0)
  pos = skip(text, pos)
  if pos <= #text then fail(text, pos, "trailing characters") end
  return value
end

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t and (n > 0 or getmetatable(t) == json.array_mt)
end

json.array_mt = {}

function json.array(t)
  return setmetatable(t or {}, json.array_mt)
end

function json.encode(value)
  local kind = type(value)
  if value == json.null or value == nil then return "null" end
  if kind == "boolean" then return tostring(value) end
  if kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return "null" end
    if math.type(value) == "integer" then return tostring(value) end
    return string.format("%.17g", value)
  end
  if kind == "string" then return encode_string(value) end
  if kind == "table" then
    local parts = {}
    if is_array(value) then
      for i = 1, #value do parts[i] = json.encode(value[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(value) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for i, k in ipairs(keys) do parts[i] = encode_string(k) .. ":" .. json.encode(value[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("json: cannot encode a " .. kind, 0)
end

return json
